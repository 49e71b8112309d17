"""The Streamlit review app (package data of protoecg; served by `protoecg review serve`)."""
