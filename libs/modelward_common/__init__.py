"""Code shared by the modelward services: errors, storage, the event store and its relay."""
