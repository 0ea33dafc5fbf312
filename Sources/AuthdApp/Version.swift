/// This build's version, as `authd --version` prints it and the start-up log line names it.
public let authdVersion = "0.3.0"
