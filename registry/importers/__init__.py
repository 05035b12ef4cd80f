"""Import of untrusted files: safe intake (intake.py) and readers that turn a stored upload into rows
(readers.py). Column mapping, validation, commit and exchange build on these. See docs/import.md.
"""
