"""Portfolio read models shared by the API and the web app."""
