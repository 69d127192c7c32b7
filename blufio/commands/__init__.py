"""The command implementations, one module per top-level command, and what they share."""


def print_table(header, rows):
    """Aligned columns, ``systemctl list-unit-files`` style (the last column is not padded)."""
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        cells = [f"{str(cell):<{widths[i]}}" for i, cell in enumerate(row[:-1])]
        print("  ".join([*cells, str(row[-1])]).rstrip())


def format_value(value):
    """A configuration value as TOML writes it (``true``, ``[1, 2]``), for showing."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    return str(value)
