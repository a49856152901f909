"""The request router for InferenceModels: `aihooks router` (docs/router.md).

A data-plane process beside the hooks, not part of them: an OpenAI-compatible
proxy that finds each request's InferenceModel by `model`, records demand as
the `last-request-time` annotation (throttled), holds requests while a model
wakes from zero, and observes peak memory from the metrics API. The hooks
service never imports this package.

Layers, each importing only those above it:
  config, errors, types        settings, the router's own answers, ASGI names
  state, decide, throttle,     pure: a model's view, forward/hold/reject, when to
  peak                         write demand, peaks from PodMetrics
  catalog, ports, metrics      the watch-fed cache, the I/O interfaces, Prometheus
  demand, observer             background writers behind the ports
  upstream, proxy              forwarding (HTTP/1.1 client, headers, relay)
  app                          the ASGI application
  kube, main                   lightkube I/O and the process wiring
  echo                         an OpenAI-shaped test backend (tests, bench, trials)
"""
