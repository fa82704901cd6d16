"""Experiments: sweeps over methods, grids and seeds; their reports and figures."""
