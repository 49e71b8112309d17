"""The review study: protocols, the review store (the only SQL), assignment, answers, the
ratings CSV, researcher tables and rating-card charts. Torch-free; never imports
``protoecg.agreement`` (which builds on it)."""
