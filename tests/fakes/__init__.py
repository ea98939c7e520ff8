"""Hand-written fakes of every port, in one place."""
