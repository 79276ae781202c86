"""The `modelward` command line tool."""
