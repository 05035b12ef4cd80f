"""Units, personnel, inspections and accidents from a file, row by row through the registry services.

Each row is mapped to its data elements, parsed (cells.py), placed (placement.py) and written in a
savepoint of its own, so a refused row leaves nothing behind and the next row still runs: the report
then lists every problem in the file at once. Rows already in the database are matched (by credit
code, national ID, device and date…) and compared on the mapped fields: equal rows are counted as
unchanged, different ones updated with before/after in the audit trail, so importing the same file
twice changes nothing. A blank cell in a mapped column leaves the stored value alone: exports leave
cells blank for "not known", not for "erase".

`pipeline.run_import` owns the transaction: a dry run, or a commit with any error, rolls it back.
"""

from .accidents import import_accidents, moment
from .inspections import import_inspections
from .persons import import_persons
from .units import import_units

__all__ = ["import_accidents", "import_inspections", "import_persons", "import_units", "moment"]
