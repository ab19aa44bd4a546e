"""The HTTP API: a plain FastAPI app (`create_app(deps)`) that runs under uvicorn or inside the Serve gateway."""
