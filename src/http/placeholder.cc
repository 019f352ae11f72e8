namespace muon {}
