"""AMI on panoramisk: the client, and live queue load for shedding."""
