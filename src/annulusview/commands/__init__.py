"""One module per ``annulusview`` sub-command, each with ``run(args) -> int``."""
