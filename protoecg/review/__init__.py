"""Stages 4-5: study protocols, the review store (SQLite) and, later, agreement statistics."""
