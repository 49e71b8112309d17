"""Time-localized clusters of a trained run (Boubekki et al., IEEE TBME 2026; issue 33): what
each branch's backbone treats as what along the ECG, and how sure it is, fitted over the
training ECGs; their alignment with the cardiologists' delineation, and a random-forest
surrogate on each ECG's cluster proportions that says how much of the model's decisions the
clusters carry."""
