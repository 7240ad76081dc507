// Runs the cluster contract against the in-process presence and bus.

import { InProcessCluster } from "../lib/cluster/memory.ts";
import { clusterContract, type ClusterNode } from "./cluster_contract.ts";

clusterContract("in-process", () => {
  const cluster = new InProcessCluster();
  const nodes: ClusterNode[] = [];
  return Promise.resolve({
    node(nodeId: string) {
      const node = { presence: cluster.presence(nodeId), bus: cluster.bus() };
      nodes.push(node);
      return Promise.resolve(node);
    },
    kill(nodeId: string) {
      cluster.kill(nodeId);
      return Promise.resolve();
    },
    async close() {
      for (const { presence, bus } of nodes) {
        await presence.close();
        await bus.close();
      }
    },
  });
});
