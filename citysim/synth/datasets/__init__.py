"""One module per NYC dataset: how its records are drawn from a batch's risk path (`draw`) and how a record
prints as of a day, encoded in exactly the real API JSON form (`rows`, yielding bytes). `change_days` lists the
lifecycle days of each record, which is how a day of changes finds what changed."""
