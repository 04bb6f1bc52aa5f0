"""Local development infrastructure: a real Apache Kafka broker fetched from Maven Central
and run on loopback. Not used in production, where the pipeline points at a real cluster."""
