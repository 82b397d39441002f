/// Tandem's release, the `version` attribute of every agent's meta-data.
public let tandemVersion = "0.1.0"
