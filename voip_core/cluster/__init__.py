"""Several worker processes serving one node's SIP sockets (``ronghe serve --workers N``).

* :mod:`~voip_core.cluster.sharding` (pure): which worker owns a message, global
  connection ids;
* :mod:`~voip_core.cluster.wire` (pure): the frames between workers;
* :mod:`~voip_core.cluster.replica` (pure): registrations replicated to every worker;
* :mod:`~voip_core.cluster.mesh` (asyncio): the channels between workers;
* :mod:`~voip_core.cluster.router` (asyncio): forwards messages to their owner and
  sends through the worker that holds a connection.
"""

from voip_core.cluster.mesh import Mesh
from voip_core.cluster.replica import ReplicatedBindingStore
from voip_core.cluster.router import ClusterRouter
from voip_core.cluster.sharding import ConnectionIds, connection_owner, message_owner, shard_key
from voip_core.cluster.wire import FrameKind

__all__ = [
    "ClusterRouter",
    "ConnectionIds",
    "FrameKind",
    "Mesh",
    "ReplicatedBindingStore",
    "connection_owner",
    "message_owner",
    "shard_key",
]
