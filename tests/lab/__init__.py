"""Test lab: emulated cameras, device profiles, network namespaces and a broker.

Nothing here imports the agent (cctv_sentinel): the lab is an independent
peer, so tests of the agent against it check real wire behaviour.
"""
