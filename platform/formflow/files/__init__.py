"""Files people attach to records: where they are kept and which a record's field may hold."""
