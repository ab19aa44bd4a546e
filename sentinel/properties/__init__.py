"""Properties (PLUTO lots) as the API and portfolios find them: by BBL, BIN, address, street or borough."""
