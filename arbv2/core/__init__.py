"""Domain core: model, config, fees, detector, executor, risk, portfolio, engine. No I/O."""
