"""Transport-independent heart of mlinfer: settings, errors, types, dataplane, repository."""
