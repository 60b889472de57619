"""Cloud sync: the event log going up over MQTT, commands coming down, evaluations over HTTP.

The outbox is not a second store: each link is a cursor over the event log, advanced only
on the broker's or the endpoint's acknowledgement.
"""
