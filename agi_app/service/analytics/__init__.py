"""Journey analytics queries: funnels, paths, repeats, staffing inputs."""
