"""Local Socrata (SODA 2.1) compatible replay server for NYC Open Data datasets.

Ray-free: the server, its store and the file readers run in any plain Python process.
"""
