"""What the book's pages call: run plans, readings, claims, tables, figures and players.

- :mod:`~resmix.book.run_plans`: each chapter's runs, built from the registrations;
- :mod:`~resmix.book.readings`: the tables of levels every chapter reads from groups of runs;
- :mod:`~resmix.book.claims`: the seed's claims with the measured value and an enforced verdict, a
  page's setup and its glued numbers; :mod:`~resmix.book.tables`: tables for people;
- :mod:`~resmix.book.plots`: figures (each returns a Figure, none trains);
  :mod:`~resmix.book.listen`: WAV players; :mod:`~resmix.book.campaigns`: the stored campaigns the pages read.

Imports from: every layer below. Nothing in resmix imports it.
"""
