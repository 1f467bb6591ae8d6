"""The Dask backend: generations of in-process providers run on the workers of a Dask cluster.

``connect`` starts or joins a cluster, ``worker`` is the code that runs on the workers (warm
providers, progress and cancellation over the scheduler), ``executor`` is the studio's side.
Imported only when a Studio asks for ``executor="dask"`` (or an address, or a Client).
"""
