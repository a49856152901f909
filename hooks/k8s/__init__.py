"""Pure helpers shared by every system: quantities, conditions, names, labels, objects."""
