set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_mnist_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'mnist10k (n=9000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
31433.178 0.98840
30447.346 0.98840
28867.874 0.99350
25298.823 0.99670
17417.508 0.99820
13954.299 0.99870
9268.286 0.99990
EOD
$d1 << EOD
47997.068 0.98840
47246.734 0.98840
43740.047 0.99350
16394.007 0.99670
34825.247 0.99820
29413.750 0.99870
14350.263 0.99990
EOD
$d2 << EOD
11643.589 0.99730
11736.701 0.99730
11441.470 0.99730
11725.757 0.99730
10935.740 0.99800
8063.466 0.99890
5461.401 0.99970
EOD
$d3 << EOD
25589.061 0.99730
25074.515 0.99730
25797.345 0.99730
26568.715 0.99730
24760.622 0.99800
22353.861 0.99890
15181.202 0.99970
EOD
$d4 << EOD
20008.742 0.95400
15066.704 0.98140
8963.196 0.99300
9247.624 0.99610
7163.964 0.99830
5094.779 0.99880
3628.239 0.99990
EOD
$d5 << EOD
48184.010 0.95400
36459.096 0.98140
27600.747 0.99300
22765.127 0.99610
17069.519 0.99830
14363.729 0.99880
8456.126 0.99990
EOD
$d6 << EOD
3710.772 0.97830
2723.520 0.99190
2598.189 0.99670
2345.600 0.99810
1592.983 0.99920
1284.387 0.99950
1052.367 1.00000
EOD
$d7 << EOD
8318.661 0.97830
6830.146 0.99190
5501.225 0.99670
4368.932 0.99810
3277.875 0.99920
3090.540 0.99950
1954.758 1.00000
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'hnswlib:m=16,efc=200', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'hnswlib:m=16,efc=200 (2 thr)', \
     $d6 using 1:2 with linespoints lc 4 dt 1 pt 4 title 'faiss:HNSW32,Flat', \
     $d7 using 1:2 with linespoints lc 4 dt 2 pt 4 title 'faiss:HNSW32,Flat (2 thr)'
