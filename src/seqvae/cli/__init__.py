"""The ``seqvae`` command: one module per family of commands (:mod:`.runs`, :mod:`.model`, :mod:`.analysis`),
what they share (:mod:`.arguments`, :mod:`.errors`) and the entry point (:mod:`.main`). Each command parses its
arguments, calls the library and prints."""

from seqvae.cli.main import main

__all__ = ["main"]
