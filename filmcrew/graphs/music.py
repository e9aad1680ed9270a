"""The music subgraph: composer → critic ⟲ (bounded rounds) → mixer."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from filmcrew.agents.composer import compose_node
from filmcrew.agents.critic import critic_node, route_after_critic
from filmcrew.agents.mixer import mix_node
from filmcrew.context import CrewContext
from filmcrew.graphs.state import CrewState


def build_music_graph() -> StateGraph:
    g = StateGraph(CrewState, context_schema=CrewContext)
    g.add_node("composer", compose_node)
    g.add_node("critic", critic_node)
    g.add_node("mixer", mix_node)
    g.add_edge(START, "composer")
    g.add_edge("composer", "critic")
    g.add_conditional_edges("critic", route_after_critic, ["composer", "mixer"])
    g.add_edge("mixer", END)
    return g
