"""MQTT: the contract (docs/mqtt.md), a paho-mqtt client on asyncio, and the publisher."""
