"""Hidden-Markov-model map matching (Newson & Krumm) of GPS fixes to the road network."""
