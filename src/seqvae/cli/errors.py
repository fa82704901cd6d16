"""Which failures the command reports as one line: those with a message meant for the user."""

from __future__ import annotations

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException


class UsageError(ValueError):
    """Arguments that do not parse (exit status 2, as argparse's own)."""


# Bad files, arguments, configs and outputs, missing extras, a diverged run: their messages say what to do.
EXPECTED = (ValueError, OSError, ImportError, ArithmeticError, HydraException, OmegaConfBaseException)


def one_line(err: BaseException) -> str:
    """The error's message on one line (a multi-line message, as Hydra's, joined)."""
    return " ".join(line.strip() for line in str(err).splitlines() if line.strip()) or type(err).__name__
