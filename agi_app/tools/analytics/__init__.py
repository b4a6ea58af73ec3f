"""Analytics tools: charts of the reports, a generator of journeys of known shape."""
