"""Inter-province pension transfer (转移接续): the cross-region saga and its three-day path."""
