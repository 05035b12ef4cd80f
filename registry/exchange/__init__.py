"""National ↔ provincial exchange (docs/exchange.md): a province records every write in a
hash-chained change log (changelog), serves it to the national instance (feed), and the national
instance pulls and applies it (pull)."""
