set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_synth1m_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'synth1m-128-norm-seed1 (n=1000000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
5484.643 0.68400
4596.577 0.83100
2063.094 0.93180
1335.148 0.96440
1361.724 0.97340
1183.609 0.98375
EOD
$d1 << EOD
8696.730 0.68400
5618.186 0.83100
3968.368 0.93180
2782.187 0.96440
2154.213 0.97340
1392.483 0.98375
EOD
$d2 << EOD
7035.844 0.68765
3649.025 0.83735
2303.916 0.93715
1609.856 0.96425
1262.719 0.97550
909.223 0.98425
EOD
$d3 << EOD
11655.640 0.68765
7747.026 0.83735
4565.156 0.93715
3368.140 0.96425
2619.535 0.97550
2036.503 0.98425
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnswlib:m=16,efc=200', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnswlib:m=16,efc=200 (2 thr)'
