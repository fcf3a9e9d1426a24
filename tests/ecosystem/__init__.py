"""The Qiskit ecosystem's own clients on our backends, each checked against Qiskit Aer."""
