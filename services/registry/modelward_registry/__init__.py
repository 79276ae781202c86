"""Registry service: the event-sourced system of record for models and versions."""
