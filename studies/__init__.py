"""The studies behind the default preset: how each setting was chosen, and the tables in docs/.

Run from a checkout's top folder, e.g. `python -m studies.experiments --data "UCI HAR Dataset"`;
studies/README.md lists the command behind every published table. bilm itself never imports
this package: it is research about the product, not part of it.
"""
