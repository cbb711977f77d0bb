"""chargen: a character/subword LSTM language model and keyboard-prediction engine."""
