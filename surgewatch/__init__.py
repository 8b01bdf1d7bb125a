"""surgewatch's composition root: consumes the contract (streams) and the stages (processors), produces the running
product (local stack manager, and the wiring that knows every stage)."""
