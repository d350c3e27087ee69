"""The aortic analysis in the annulus frame: frame, annulus, calcium, regions, valve, risk."""
