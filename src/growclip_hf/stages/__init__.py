"""The stage loop and everything around it: launching a run from a config or preset, checkpoints and resume across
stages, the run report and publishing each stage. The only package that wires training, growth and the continual
strategies together."""
