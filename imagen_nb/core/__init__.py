"""Domain of imagen-nb: records, statuses, errors and the SmartParameter grammar. No I/O."""
