"""Demand: score chunks hourly, train the model daily, pre-cut what people are about to play."""
