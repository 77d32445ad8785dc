"""Making student-chosen text safe for the places an instructor reads it.

Student ids (folder names), exception names and messages, and anything else a submission
controls can reach a spreadsheet or a terminal. Two rules, applied wherever the project
writes such text:

- CSV: a cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a
  formula by spreadsheet programs (OWASP's "CSV injection"); it is prefixed with a single
  quote, which the spreadsheet shows as text. Numbers, and text that is only a plain number
  such as `-2.5`, pass through untouched.
- Terminal: control characters (escape sequences, carriage returns, bells) are shown as
  visible escapes, so a name cannot clear the screen or set the window title.
"""
import csv
import numbers
import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def csv_cell(value):
    """One CSV cell: numbers as they are, text neutralised if a spreadsheet would run it."""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return value
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeWriter:
    """csv.writer whose every row goes through csv_cell (header rows too)."""

    def __init__(self, stream, **options):
        self._writer = csv.writer(stream, **options)

    def writerow(self, row):
        self._writer.writerow([csv_cell(v) for v in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def terminal_text(text):
    """`text` with every control character (C0, DEL, C1) shown as a visible escape."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if code < 0x20 or 0x7f <= code < 0xa0:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    return "".join(out)
